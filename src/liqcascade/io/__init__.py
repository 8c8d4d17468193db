"""Config files, loaders, and the results store."""
