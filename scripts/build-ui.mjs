// Builds the dashboard's browser assets into dist/ui (replaced by the dashboard work).
console.log('build-ui: no dashboard yet');
