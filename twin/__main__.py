from twin.cli import entry

entry()
