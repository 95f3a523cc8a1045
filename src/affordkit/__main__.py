from affordkit.cli import entry

entry()
