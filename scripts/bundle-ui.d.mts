/** The bundled files by name (`app.js`, `app.css`) when built in memory; empty when written to `outdir`. */
export function bundleUi(options?: { outdir?: string }): Promise<Record<string, string>>;
