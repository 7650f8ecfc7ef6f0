from ams_actors.cli import main

raise SystemExit(main())
