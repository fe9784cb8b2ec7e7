"""Label files in and out: Raven, Audacity, BirdNET, Perch/hoplite, soundevent AOEF, BirdCLEF. No Qt here."""
