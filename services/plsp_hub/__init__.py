"""PLSP Health Hub: takes GP systems' diagnosis cards and notes, shares them through DDS as on-demand documents."""
