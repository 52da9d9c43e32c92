from zlmdb_inspect.cli import main

raise SystemExit(main())
