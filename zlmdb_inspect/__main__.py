from zlmdb_inspect.cli import entry

entry()
