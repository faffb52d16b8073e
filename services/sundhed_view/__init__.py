"""Sundhed.dk: what citizens, relatives and health professionals see of the shared documents."""
