"""Octavia 19's API as a WSGI application for gunicorn, on bench/.octavia's config.

Octavia's ``octavia-api`` command serves with ``wsgiref``'s single-threaded
server (listen backlog 5), which it says not to use beyond testing: eight
clients at once overflow its backlog and a client's connect can wait over a
minute on SYN retries. The table runs it as Octavia recommends instead, under
gunicorn (one worker per core), so the side by side is against a served API.
"""

import os

from octavia.api import app

application = app.setup_app(argv=["octavia-api", "--config-file", os.environ["OCTAVIA_BENCH_CONF"]])
