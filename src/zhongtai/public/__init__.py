"""The public side (公众端): citizens signed in by real name, apart from department staff."""
