"""Book kernels and the shared plug-in for every protocol other than Aave v3."""
