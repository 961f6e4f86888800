// esbuild bundles imported stylesheets into app.css; for TypeScript they are modules without exports.
declare module '*.css';
