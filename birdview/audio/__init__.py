"""Reading recordings (by seeking, never whole) and playing them. No Qt here."""
