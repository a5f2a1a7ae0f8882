"""Hangs while being imported: every task fails, and the notes say why."""

while True:
    pass
