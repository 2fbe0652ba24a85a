import { isValidNhsNumber, maskNhsNumbers } from '../../src/fhir/nhs-number.js';
import { fixture } from '../helpers/sandbox.js';

describe('isValidNhsNumber', () => {
  it('accepts the NHS numbers in the published examples', () => {
    const stu3 = fixture('stu3/appointment-book-request.json');
    const bars = fixture('bars/process-message-booking-request.json');
    const barsPatient = bars.entry.find((e: any) => e.resource.resourceType === 'Patient').resource;
    expect(isValidNhsNumber(stu3.contained[1].identifier[0].value)).toBe(true);
    expect(isValidNhsNumber(barsPatient.identifier[0].value)).toBe(true);
    expect(isValidNhsNumber('943 476 5919')).toBe(true);
  });

  it('rejects a wrong check digit, a check digit of 10, and anything not ten digits', () => {
    expect(isValidNhsNumber('9434765918')).toBe(false);
    // Weighted sum 12 (6 × 2): 11 - (12 mod 11) = 10, a check digit no NHS number can have.
    expect(isValidNhsNumber('0000000060')).toBe(false);
    expect(isValidNhsNumber('123456789')).toBe(false);
    expect(isValidNhsNumber('12345678901')).toBe(false);
    expect(isValidNhsNumber('94347659AB')).toBe(false);
  });
});

describe('maskNhsNumbers', () => {
  const mask = (text: string) => maskNhsNumbers(text, (digits) => `<${digits.slice(-2)}>`);

  it('masks a valid NHS number however it is spaced or dashed, erring on the side of masking', () => {
    expect(mask('123 9434765919')).toBe('123 <19>');
    expect(mask('/Patient/9434765919')).toBe('/Patient/<19>');
    expect(mask('q=943 476 5919 and 943-476-5919, 943.476.5919')).toBe('q=<19> and <19>, <19>');
  });

  it('leaves numbers that are not NHS numbers', () => {
    expect(mask('9434765918')).toBe('9434765918');
    expect(mask('service 2000011147')).toBe('service 2000011147');
    expect(mask('94347659191')).toBe('94347659191');
  });
});
