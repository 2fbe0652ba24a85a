import { createRequire } from 'node:module';

/*
 * A structural check of FHIR R4 JSON against the R4 element definitions fhirpath ships (its model of
 * every element's type and cardinality): every element must exist at its place, arrays where the
 * element repeats and single values where it does not, primitives of the right JSON type, choice
 * elements (`value[x]`) with a type they allow. Required elements are checked by the caller.
 */

interface Model {
  path2Type: Record<string, string>;
  path2Repeating: Record<string, boolean>;
  choiceTypePaths: Record<string, string[]>;
  pathsDefinedElsewhere: Record<string, string>;
  type2Parent: Record<string, string>;
}
const model = createRequire(import.meta.url)('fhirpath/fhir-context/r4') as Model;

const STRINGS = new Set([
  'string',
  'uri',
  'url',
  'canonical',
  'code',
  'id',
  'markdown',
  'oid',
  'uuid',
  'base64Binary',
  'System.String',
]);
const DATES = new Set(['date', 'dateTime', 'instant', 'time']);
const INTEGERS = new Set(['integer', 'positiveInt', 'unsignedInt']);
const SYSTEM_TYPES: Record<string, string> = {
  'System.String': 'string',
  'System.Boolean': 'boolean',
  'System.Integer': 'integer',
  'System.Decimal': 'decimal',
};
const PRIMITIVES = new Set([...STRINGS, ...DATES, ...INTEGERS, 'decimal', 'boolean']);

function primitiveProblem(fhirType: string, value: unknown): string | undefined {
  // FHIRPath's own types (an element's id, an extension's url) as the FHIR primitives they hold.
  const type = fhirType.startsWith('System.') ? (SYSTEM_TYPES[fhirType] ?? 'string') : fhirType;
  if (STRINGS.has(type) || DATES.has(type))
    return typeof value === 'string' ? undefined : `a string (${type})`;
  if (INTEGERS.has(type)) return Number.isInteger(value) ? undefined : `an integer (${type})`;
  if (type === 'decimal') return typeof value === 'number' ? undefined : 'a number (decimal)';
  if (type === 'boolean') return typeof value === 'boolean' ? undefined : 'a boolean';
  return undefined;
}

/** The definition path of `child` inside an element whose own path is `path` and type `type`. */
function childPath(path: string, type: string | undefined, child: string): string {
  const base = type && type !== 'BackboneElement' && type !== 'Element' && /^[A-Z]/.test(type) ? type : path;
  const direct = `${base}.${child}`;
  if (model.path2Type[direct] !== undefined || model.choiceTypePaths[direct]) return direct;
  // Inherited elements (id, extension, meta…), and elements a definition reuses from elsewhere.
  let parent = model.type2Parent[base];
  while (parent) {
    if (model.path2Type[`${parent}.${child}`] !== undefined) return `${parent}.${child}`;
    parent = model.type2Parent[parent];
  }
  const elsewhere = model.pathsDefinedElsewhere[base];
  return elsewhere ? childPath(elsewhere, undefined, child) : direct;
}

function check(value: unknown, path: string, type: string | undefined, at: string, problems: string[]): void {
  if (type && (/^[a-z]/.test(type) || type.startsWith('System.'))) {
    const expected = primitiveProblem(type, value);
    if (expected) problems.push(`${at}: expected ${expected}`);
    return;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push(`${at}: expected an object`);
    return;
  }
  const resourceType = (value as { resourceType?: string }).resourceType;
  if (type === 'Resource' || (resourceType && !type)) {
    if (!resourceType || !model.type2Parent[resourceType]) {
      problems.push(`${at}: not a known resource type`);
      return;
    }
    path = resourceType;
    type = resourceType;
  }
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    if (key === 'resourceType') continue;
    let elementPath = childPath(path, type, key);
    let elementType = model.path2Type[elementPath];
    if (elementType === undefined) {
      // A choice element: `valueBoolean` is `value[x]` of type boolean, `valueQuantity` of Quantity.
      const split = key.search(/[A-Z]/);
      const choicePath = split > 0 ? childPath(path, type, key.slice(0, split)) : '';
      const typeName = key.slice(split);
      if (split <= 0 || !model.choiceTypePaths[choicePath]?.includes(typeName)) {
        problems.push(`${at}.${key}: no such element in R4`);
        continue;
      }
      elementPath = choicePath;
      const primitive = typeName.charAt(0).toLowerCase() + typeName.slice(1);
      elementType = PRIMITIVES.has(primitive) ? primitive : typeName;
    }
    const repeats = model.path2Repeating[elementPath] === true;
    if (repeats !== Array.isArray(child)) {
      problems.push(
        `${at}.${key}: ${repeats ? 'repeats: expected an array' : 'does not repeat: expected one value'}`,
      );
      continue;
    }
    const items = Array.isArray(child) ? child : [child];
    items.forEach((item, i) =>
      check(
        item,
        elementPath,
        elementType,
        Array.isArray(child) ? `${at}.${key}[${i}]` : `${at}.${key}`,
        problems,
      ),
    );
  }
}

/** What in a resource does not follow the R4 structure (empty when it all does). */
export function r4Problems(resource: { resourceType: string }): string[] {
  const problems: string[] = [];
  check(resource, resource.resourceType, resource.resourceType, resource.resourceType, problems);
  return problems;
}
