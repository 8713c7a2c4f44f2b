"""Salt loads the modules of this directory; the file exists so pip can install it."""
