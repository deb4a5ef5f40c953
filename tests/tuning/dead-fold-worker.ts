// A worker that exits quietly while it starts, before it can take any fold.
process.exit(0);
