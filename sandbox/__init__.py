"""The composition root: the one-process app that mounts every actor under one origin, the actor
table, the ``nsp-sandbox`` command line and the demos. It sits above every actor; nothing below
imports it."""
