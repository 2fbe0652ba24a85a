/** Every personal value in a payload: human names, addresses, telecoms, NHS numbers, full birth dates, free text. */
export function personalValues(value: unknown, key = '', found: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => personalValues(v, key, found));
  else if (value && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    if (object.system === 'https://fhir.nhs.uk/Id/nhs-number' && typeof object.value === 'string')
      found.push(object.value);
    for (const [k, v] of Object.entries(object)) {
      if (
        ['family', 'given', 'line', 'city', 'postalCode'].includes(k) &&
        (key === 'name' || key === 'address')
      ) {
        (Array.isArray(v) ? v : [v]).forEach((s) => typeof s === 'string' && found.push(s));
      }
      if (k === 'value' && key === 'telecom' && typeof v === 'string') found.push(v);
      if (k === 'birthDate' && typeof v === 'string') found.push(v);
      if (k === 'text' && typeof v === 'string' && v.length > 20) found.push(v.slice(0, 40));
      personalValues(v, k, found);
    }
  }
  return found;
}
