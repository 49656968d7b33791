from logotag_gui.qt.app import main

raise SystemExit(main())
