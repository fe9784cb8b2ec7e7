"""Long work on a project (scoring, training jobs), usable from a thread, a process or the CLI. No Qt here."""
