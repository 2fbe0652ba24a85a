/** The identifier system of NHS numbers. */
export const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';

/**
 * Whether a string is a valid NHS number: ten digits whose last is the Modulus 11 check digit of the
 * first nine (a check digit of 10 makes the number invalid).
 */
export function isValidNhsNumber(value: string): boolean {
  const digits = value.replace(/[\s-]/g, '');
  if (!/^\d{10}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(digits[i]) * (10 - i);
  const check = 11 - (sum % 11);
  if (check === 10) return false;
  return (check === 11 ? 0 : check) === Number(digits[9]);
}

/** Ten digits, however they are spaced or dashed, not part of a longer run of digits. */
const TEN_DIGITS = /(?<![\d])\d(?:[\s.-]*\d){9}(?![\s.-]*\d)/g;

/**
 * Replaces each valid NHS number in free text (written `9434765919`, `943 476 5919`, `943-476-5919`…)
 * with what `replace` makes of its ten digits: a hash for a record, a placeholder for a log line.
 */
export function maskNhsNumbers(text: string, replace: (digits: string) => string): string {
  return text.replace(TEN_DIGITS, (found) => {
    const digits = found.replace(/\D/g, '');
    return isValidNhsNumber(digits) ? replace(digits) : found;
  });
}
