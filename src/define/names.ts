// The names users give to sources, assets, views and columns: the definition layer's rule, which the SQL layer's
// identifier checks (sql/identifiers.ts) apply too.

/**
 * Letters, digits and underscores, starting with a letter, at most 63 characters. A leading underscore is
 * reserved: internal relations and columns (`__rejects_*`, `__raw_*`) use it.
 */
const NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

export function isValidName(name: string): boolean {
  return NAME.test(name);
}
