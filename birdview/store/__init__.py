"""The project store (SQLite): recordings, species, labels, predictions, models. No Qt here."""
