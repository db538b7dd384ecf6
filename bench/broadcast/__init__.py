"""Side-by-side broadcast benchmark (issue 6, item 2): Viora against Node Socket.IO and python-socketio.

Run with ``python -m bench.broadcast.run`` (see :mod:`bench.broadcast.run`). The peers' packages are
installed by the run into ``bench/results/broadcast-peers/`` (git-ignored); the repository keeps only
the minimal server file each peer needs and the Node load driver:

* ``socketio_server.mjs`` - Node Socket.IO relay;
* ``python_socketio_server.py`` - python-socketio relay on uvicorn (ASGI);
* ``clients.mjs`` - the receivers and the sender, one Node process, the same for all three servers;
* ``peers.py`` (scratch folder, installs), ``servers.py`` (start, stop, CPU accounting),
  ``driver.py`` (one workload against one server), ``profile.py`` (py-spy summary), ``run.py``.
"""
