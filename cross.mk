# (filled in by the part of the project it names)
