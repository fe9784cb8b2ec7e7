"""Models in the window: Models ▸ Add model (BirdNET, Perch v2, a birdview-train model) and which
species the probability panel shows (only those expected here, non-bird classes or not)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFileDialog

from birdview.gui import main_window as main_window_module
from birdview.gui.add_model_dialog import AddModelDialog
from birdview.gui.main_window import MainWindow
from birdview.jobs.model_kinds import birdnet_installed
from birdview.jobs.species_filter import set_species_list
from birdview.store.project import Project
from tests.conftest import write_tone_file
from tests.trainer.perch_standin import STANDIN_CLASSES, write_standin

#: (code, common name, scientific name, category), the model's classes in order.
CLASSES = [
    ("amecro", "American Crow", "Corvus brachyrhynchos", "bird"),
    ("norcar", "Northern Cardinal", "Cardinalis cardinalis", "bird"),
    ("blujay", "Blue Jay", "Cyanocitta cristata", "bird"),
    ("houspa", "House Sparrow", "Passer domesticus", "bird"),
    ("Dog", "Dog", None, "other"),
    ("Human vocal", "Human vocal", None, "other"),
]
CODES = [code for code, *_ in CLASSES]
#: Each class's score in every window: non-birds highest, then the birds not on the species list.
PEAKS = {"amecro": 0.6, "norcar": 0.5, "blujay": 0.9, "houspa": 0.8, "Dog": 0.99, "Human vocal": 0.95}
LISTED = ("amecro", "norcar")


def _window(qtbot, tmp_path: Path, fake_streams) -> MainWindow:
    settings = QSettings(str(tmp_path / "birdview.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, stream_factory=fake_streams)
    qtbot.addWidget(window)
    window.resize(1300, 900)
    window.show()
    return window


@pytest.fixture
def dialog(qtbot) -> AddModelDialog:
    shown = AddModelDialog()
    qtbot.addWidget(shown)
    shown.show()
    return shown


def test_the_dialog_lists_three_kinds_with_licence_and_class_count(dialog: AddModelDialog) -> None:
    assert [button.text() for button in dialog.buttons.values()] == [
        "BirdNET V2.4 (built in)",
        "Perch v2 (ONNX file you downloaded)",
        "A birdview-train model (.ckpt or .onnx)",
    ]
    birdnet, perch, trained = (dialog.details[kind].text() for kind in ("birdnet", "perch-v2", "birdview-train"))
    assert "CC BY-NC-SA 4.0" in birdnet and "6,522 classes" in birdnet
    assert "Apache-2.0" in perch and "14,795 classes" in perch
    assert "yours" in trained and "classes: read from the file" in trained
    notice = dialog.findChild(type(dialog.details["birdnet"]), "notice_birdnet")
    assert notice.isVisible() and notice.text().startswith("<b>Non-commercial use only.</b>")
    assert "non-commercial purposes only" in notice.text()
    assert "huggingface.co/justinchuby/Perch-onnx" in dialog.notices["perch-v2"].text()
    # Nothing chosen yet: nothing to add.
    assert not dialog.ok_button.isEnabled() and dialog.problem.text() == "Choose the kind of model."
    dialog.buttons["birdnet"].click()
    assert dialog.ok_button.isEnabled() == birdnet_installed()
    if birdnet_installed():
        assert dialog.choice() == ("birdnet", None)


def test_perch_and_trained_models_need_their_file(dialog: AddModelDialog, tmp_path: Path, monkeypatch) -> None:
    onnx, _ = write_standin(tmp_path / "perch")
    dialog.buttons["perch-v2"].click()
    assert not dialog.ok_button.isEnabled() and "Choose its file" in dialog.problem.text()
    dialog.file_edits["perch-v2"].setText(str(tmp_path / "missing.onnx"))
    assert not dialog.ok_button.isEnabled() and "no such file" in dialog.problem.text()
    # Choose file… fills in the path.
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(onnx), ""))
    dialog.choose_buttons["perch-v2"].click()
    assert dialog.file_edits["perch-v2"].text() == str(onnx)
    assert dialog.ok_button.isEnabled() and dialog.problem.text() == ""
    assert dialog.choice() == ("perch-v2", str(onnx))
    # Switching kind asks for that kind's own file; a file of the wrong kind is refused.
    dialog.buttons["birdview-train"].click()
    assert not dialog.ok_button.isEnabled()
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    dialog.file_edits["birdview-train"].setText(str(text))
    assert not dialog.ok_button.isEnabled() and "not a .ckpt or .onnx file" in dialog.problem.text()
    # Typing a file for Perch selects Perch again.
    dialog.file_edits["perch-v2"].clear()
    dialog.file_edits["perch-v2"].setText(str(onnx))
    assert dialog.buttons["perch-v2"].isChecked() and dialog.ok_button.isEnabled()


def test_adding_perch_through_the_dialog(qtbot, tmp_path: Path, fake_streams) -> None:
    onnx, _ = write_standin(tmp_path / "perch")
    audio = tmp_path / "audio"
    audio.mkdir()
    write_tone_file(audio / "20240521_053000.wav", duration_s=12.0)
    window = _window(qtbot, tmp_path, fake_streams)
    try:
        window.open_project(tmp_path / "project")
        window.open_paths([audio])
        assert window.wait_until_ready(30)
        assert not window.probabilities.isVisible()  # no model yet
        models_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Models")
        next(a for a in models_menu.actions() if a.text() == "Add model…").trigger()
        dialog = window.findChild(AddModelDialog, "add_model_dialog")
        assert dialog is not None and dialog.isVisible()
        dialog.set_file("perch-v2", onnx)
        assert dialog.ok_button.isEnabled()
        with qtbot.waitSignal(window.scoring.modelAdded, timeout=60_000) as added:
            dialog.ok_button.click()
        model = added.args[0]
        assert model is not None and model.kind == "perch-v2" and model.active
        message = window.statusBar().currentMessage()
        assert (
            message
            == f"Model added: v1 Perch v2, {len(STANDIN_CLASSES)} classes, licence Apache-2.0 (now the active model)"
        )
        # The models list has it, the probability panel offers its classes.
        versions = window.retrain.panel.versions
        assert versions.rowCount() == 1 and versions.item(0, 1).text() == "✓"
        assert window.probabilities.isVisible()
        shown = [window.probabilities.species_box.itemText(i) for i in range(window.probabilities.species_box.count())]
        assert len(shown) == len(STANDIN_CLASSES) and shown[0].startswith("eurbla")
        assert window.findChild(AddModelDialog, "add_model_dialog") is None or not dialog.isVisible()
    finally:
        window.shutdown()


def test_a_model_that_cannot_be_added_is_explained_in_a_message_box(qtbot, tmp_path: Path, fake_streams) -> None:
    window = _window(qtbot, tmp_path, fake_streams)
    try:
        window.open_project(tmp_path / "project")
        broken = tmp_path / "perch_v2.onnx"
        broken.write_bytes(b"not an onnx model")
        with qtbot.waitSignal(window.scoring.modelAdded, timeout=60_000) as added:
            window.scoring.add_in_background("perch-v2", broken)
        assert added.args[0] is None
        box = window.scoring.add_error
        assert box is not None and box.isVisible() and box.windowTitle() == "Model not added"
        assert str(broken) in box.text() or broken.name in box.text()
        assert window.project.models() == []
        box.close()
    finally:
        window.shutdown()


@pytest.fixture
def project_folder(tmp_path: Path) -> Path:
    """A recording of four 5 s windows, a model (classes CLASSES) scoring each class PEAKS in every
    window, and a species list naming two of the birds."""
    audio = tmp_path / "audio"
    audio.mkdir()
    write_tone_file(audio / "20240521_053000.wav", duration_s=20.0)
    species_list = tmp_path / "garden.txt"
    species_list.write_text("# the garden\namecro\nCardinalis cardinalis_Northern Cardinal\n")
    with Project.create(tmp_path / "project", species=[]) as project:
        project.add_model_species(CLASSES)
        project.add_recordings([audio])
        model = project.register_model(tmp_path / "model.onnx", CODES, window_s=5.0, activate=True, kind="perch-v2")
        scores = np.tile(np.array([PEAKS[code] for code in CODES], dtype=np.float32), (4, 1))
        project.store_predictions(model.version, project.recordings()[0].id, scores)
        set_species_list(project, species_list)
    return tmp_path / "project"


def _legend_codes(window: MainWindow) -> list[str]:
    """The species of the tracks, as the legend lists them."""
    legend, name = window.probabilities.legend.text(), window.probabilities.display_name
    shown = [code for code in CODES if f"■ {name(code)}<" in legend]
    return sorted(shown, key=lambda code: legend.index(f"■ {name(code)}<"))


def test_filter_toggles_change_the_species_shown(qtbot, tmp_path: Path, fake_streams, project_folder, monkeypatch):
    computed = []
    real = main_window_module.species_filter
    monkeypatch.setattr(
        main_window_module, "species_filter", lambda *args, **kwargs: computed.append(1) or real(*args, **kwargs)
    )
    window = _window(qtbot, tmp_path, fake_streams)
    try:
        window.open_project(project_folder)
        assert window.wait_until_ready(30) and window.current is not None
        panel = window.probabilities
        filter_toggle = panel.findChild(type(panel.species_filter_toggle), "species_filter_toggle")
        non_birds = panel.findChild(type(panel.non_bird_toggle), "non_bird_toggle")
        assert filter_toggle.text() == "Only species expected here" and filter_toggle.isChecked()
        assert non_birds.text() == "Show non-bird classes" and not non_birds.isChecked()
        assert "garden.txt" in filter_toggle.toolTip()
        # Only the listed species: the two of them, not the higher-scoring others.
        assert sorted(_legend_codes(window)) == sorted(LISTED)
        assert set(panel.tracks.classes) == set(LISTED)
        # Every bird: the three highest birds; the dog and the voice stay hidden.
        filter_toggle.click()
        assert _legend_codes(window) == ["blujay", "houspa", "amecro"]
        assert set(panel.tracks.classes) == {"amecro", "norcar", "blujay", "houspa"}
        # Non-bird classes too: they score highest.
        non_birds.click()
        assert _legend_codes(window) == ["Dog", "Human vocal", "blujay"]
        assert set(panel.tracks.classes) == set(CODES)
        # Back to the species list, non-birds still shown: none of them is on the list.
        filter_toggle.click()
        assert sorted(_legend_codes(window)) == sorted(LISTED)
        # Scrolling and zooming reuse the recording's filter: it was worked out once.
        window.view.zoom(0.5)
        window.view.zoom(2.0)
        window.refresh_tracks()
        assert len(computed) == 1
    finally:
        window.shutdown()


def test_species_box_is_searchable_with_common_names(qtbot, tmp_path: Path, fake_streams, project_folder) -> None:
    window = _window(qtbot, tmp_path, fake_streams)
    try:
        window.open_project(project_folder)
        assert window.wait_until_ready(30)
        box = window.probabilities.species_box
        assert box.isEditable()
        assert [box.itemText(i) for i in range(box.count())][:2] == [
            "amecro — American Crow",
            "norcar — Northern Cardinal",
        ]
        completer = box.completer()
        assert completer.filterMode() == Qt.MatchFlag.MatchContains
        completer.setCompletionPrefix("cardinal")
        assert completer.completionCount() == 1 and completer.currentCompletion() == "norcar — Northern Cardinal"
        window.probabilities.clear_species()
        box.setEditText("norcar — Northern Cardinal")
        window.probabilities.add_button.click()
        box.setEditText("blue jay")
        window.probabilities.add_button.click()
        box.setEditText("houspa")
        window.probabilities.add_button.click()
        box.setEditText("no such bird")
        window.probabilities.add_button.click()
        assert window.probabilities.chosen == ["norcar", "blujay", "houspa"]
        # Chosen by hand, they are drawn though the species list leaves two of them out.
        assert _legend_codes(window) == ["norcar", "blujay", "houspa"]
    finally:
        window.shutdown()
