"""What people and platforms read: the report formats, and the Gradescope bundle."""
