// JSON Schema compiled to a DuckDB predicate over a JSON value, so expect_column_values_to_match_json_schema
// runs inside the scan. Supported: type, properties, required, additionalProperties, enum, const, minimum,
// maximum, exclusiveMinimum, exclusiveMaximum, multipleOf, minLength, maxLength, pattern, items (one schema),
// minItems, maxItems, minProperties, maxProperties, allOf, anyOf, oneOf, not, and boolean schemas; annotations
// (title, description, $schema, $id, default, examples, format, $comment) are ignored, as jsonschema does
// without a format checker. Anything else is rejected when the suite is compiled.
import { SluiceError } from '../errors.ts';
import { quoteLiteral } from './values.ts';

const ANNOTATIONS = new Set(['title', 'description', '$schema', '$id', 'id', 'default', 'examples', 'format', '$comment', 'readOnly', 'writeOnly', 'deprecated']);
const NUMERIC = `('BIGINT', 'UBIGINT', 'HUGEINT', 'DOUBLE')`;

function pointer(key: string): string {
  return quoteLiteral(`/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`);
}

function typeTest(j: string, type: unknown): string {
  switch (type) {
    case 'object': return `json_type(${j}) = 'OBJECT'`;
    case 'array': return `json_type(${j}) = 'ARRAY'`;
    case 'string': return `json_type(${j}) = 'VARCHAR'`;
    case 'boolean': return `json_type(${j}) = 'BOOLEAN'`;
    case 'null': return `json_type(${j}) = 'NULL'`;
    case 'number': return `json_type(${j}) IN ${NUMERIC}`;
    case 'integer': return `(json_type(${j}) IN ('BIGINT', 'UBIGINT', 'HUGEINT') OR (json_type(${j}) = 'DOUBLE' AND CAST(${j} AS DOUBLE) = floor(CAST(${j} AS DOUBLE))))`;
    default: throw new SluiceError('DEFINITION_INVALID', `json_schema: unknown type ${JSON.stringify(type)}`);
  }
}

function equalsJson(j: string, value: unknown): string {
  if (value === null) return `json_type(${j}) = 'NULL'`;
  if (typeof value === 'boolean') return `(json_type(${j}) = 'BOOLEAN' AND CAST(${j} AS BOOLEAN) = ${value ? 'TRUE' : 'FALSE'})`;
  if (typeof value === 'number') return `(json_type(${j}) IN ${NUMERIC} AND CAST(${j} AS DOUBLE) = (${String(value)})::DOUBLE)`;
  if (typeof value === 'string') return `(json_type(${j}) = 'VARCHAR' AND json_extract_string(${j}, '$') = ${quoteLiteral(value)})`;
  return `(CAST(json(${j}) AS VARCHAR) = ${quoteLiteral(JSON.stringify(value))})`;
}

function numberOf(schema: Record<string, unknown>, key: string): number | undefined {
  const value = schema[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw new SluiceError('DEFINITION_INVALID', `json_schema: "${key}" must be a number`);
  return value;
}

function listOf(schema: Record<string, unknown>, key: string): unknown[] {
  const value = schema[key];
  if (!Array.isArray(value)) throw new SluiceError('DEFINITION_INVALID', `json_schema: "${key}" must be a list`);
  return value;
}

/** A predicate that is TRUE when the JSON value `j` (an SQL expression of type JSON) satisfies `schema`. */
function compile(schema: unknown, j: string, depth: number): string {
  if (schema === true) return 'TRUE';
  if (schema === false) return 'FALSE';
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new SluiceError('DEFINITION_INVALID', 'json_schema: a schema must be an object or a boolean');
  }
  const s = schema as Record<string, unknown>;
  const parts: string[] = [];
  const whenType = (type: string, test: string): void => { parts.push(`(NOT ${typeTest(j, type)} OR (${test}))`); };
  const key = `k${depth}`;
  const element = `e${depth}`;
  for (const keyword of Object.keys(s)) {
    if (ANNOTATIONS.has(keyword)) continue;
    const value = s[keyword];
    switch (keyword) {
      case 'type': {
        const types = Array.isArray(value) ? value : [value];
        parts.push(`(${types.map((t) => typeTest(j, t)).join(' OR ')})`);
        break;
      }
      case 'properties': {
        if (typeof value !== 'object' || value === null) throw new SluiceError('DEFINITION_INVALID', 'json_schema: "properties" must be an object');
        for (const [name, sub] of Object.entries(value)) {
          whenType('object', `NOT json_exists(${j}, ${pointer(name)}) OR (${compile(sub, `json_extract(${j}, ${pointer(name)})`, depth + 1)})`);
        }
        break;
      }
      case 'required':
        whenType('object', listOf(s, keyword).map((name) => `json_exists(${j}, ${pointer(String(name))})`).join(' AND ') || 'TRUE');
        break;
      case 'additionalProperties': {
        const known = Object.keys(s['properties'] ?? {});
        const extra = known.length === 0 ? `json_keys(${j})` : `list_filter(json_keys(${j}), lambda ${key}: ${key} NOT IN (${known.map(quoteLiteral).join(', ')}))`;
        const valuePath = `json_extract(${j}, '/' || replace(replace(${key}, '~', '~0'), '/', '~1'))`;
        const test = value === false ? `len(${extra}) = 0` : `coalesce(list_bool_and(list_transform(${extra}, lambda ${key}: ${compile(value, valuePath, depth + 1)})), TRUE)`;
        whenType('object', test);
        break;
      }
      case 'minProperties': whenType('object', `len(json_keys(${j})) >= ${numberOf(s, keyword) ?? 0}`); break;
      case 'maxProperties': whenType('object', `len(json_keys(${j})) <= ${numberOf(s, keyword) ?? 0}`); break;
      case 'enum': parts.push(`(${listOf(s, keyword).map((v) => equalsJson(j, v)).join(' OR ') || 'FALSE'})`); break;
      case 'const': parts.push(equalsJson(j, value)); break;
      case 'minimum': whenType('number', `CAST(${j} AS DOUBLE) >= ${numberOf(s, keyword) ?? 0}`); break;
      case 'maximum': whenType('number', `CAST(${j} AS DOUBLE) <= ${numberOf(s, keyword) ?? 0}`); break;
      case 'exclusiveMinimum': whenType('number', `CAST(${j} AS DOUBLE) > ${numberOf(s, keyword) ?? 0}`); break;
      case 'exclusiveMaximum': whenType('number', `CAST(${j} AS DOUBLE) < ${numberOf(s, keyword) ?? 0}`); break;
      case 'multipleOf': whenType('number', `CAST(${j} AS DOUBLE) / ${numberOf(s, keyword) ?? 1} = floor(CAST(${j} AS DOUBLE) / ${numberOf(s, keyword) ?? 1})`); break;
      case 'minLength': whenType('string', `length(json_extract_string(${j}, '$')) >= ${numberOf(s, keyword) ?? 0}`); break;
      case 'maxLength': whenType('string', `length(json_extract_string(${j}, '$')) <= ${numberOf(s, keyword) ?? 0}`); break;
      case 'pattern': whenType('string', `regexp_matches(json_extract_string(${j}, '$'), ${quoteLiteral(String(value))})`); break;
      case 'items':
        if (Array.isArray(value)) throw new SluiceError('DEFINITION_INVALID', 'json_schema: "items" as a list (tuple validation) is not supported');
        whenType('array', `coalesce(list_bool_and(list_transform(json_extract(${j}, '$[*]'), lambda ${element}: ${compile(value, element, depth + 1)})), TRUE)`);
        break;
      case 'minItems': whenType('array', `json_array_length(${j}) >= ${numberOf(s, keyword) ?? 0}`); break;
      case 'maxItems': whenType('array', `json_array_length(${j}) <= ${numberOf(s, keyword) ?? 0}`); break;
      case 'allOf': parts.push(`(${listOf(s, keyword).map((sub) => compile(sub, j, depth + 1)).join(' AND ') || 'TRUE'})`); break;
      case 'anyOf': parts.push(`(${listOf(s, keyword).map((sub) => compile(sub, j, depth + 1)).join(' OR ') || 'FALSE'})`); break;
      case 'oneOf': parts.push(`((${listOf(s, keyword).map((sub) => `CASE WHEN coalesce(${compile(sub, j, depth + 1)}, FALSE) THEN 1 ELSE 0 END`).join(' + ') || '0'}) = 1)`); break;
      case 'not': parts.push(`NOT coalesce(${compile(value, j, depth + 1)}, FALSE)`); break;
      default:
        throw new SluiceError('DEFINITION_INVALID', `json_schema: keyword "${keyword}" is not supported (supported: type, properties, required, additionalProperties, enum, const, minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf, minLength, maxLength, pattern, items, minItems, maxItems, minProperties, maxProperties, allOf, anyOf, oneOf, not)`);
    }
  }
  return parts.length === 0 ? 'TRUE' : `(${parts.join(' AND ')})`;
}

/** A predicate that is TRUE when the text in `column` is valid JSON matching `schema` (FALSE for invalid JSON). */
export function jsonSchemaPredicate(column: string, schema: unknown): string {
  return `CASE WHEN json_valid(${column}) THEN coalesce(${compile(schema, `CAST(${column} AS JSON)`, 0)}, FALSE) ELSE FALSE END`;
}
