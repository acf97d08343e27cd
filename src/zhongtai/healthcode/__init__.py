"""安康码 (the health code): person and place codes, signed so that any gate verifies them offline."""
