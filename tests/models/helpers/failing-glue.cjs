// Stands in for ml-xgboost's glue when it fails to load: it has already hidden nothing and added its listener.
process.on('uncaughtException', (ex) => {
  throw ex;
});
throw new Error('the glue failed to load');
