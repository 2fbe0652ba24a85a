import { memoryLogger } from '../helpers/app.js';

describe('the logger', () => {
  it('censors credentials and patient fields wherever a log object carries them', () => {
    const { logger, lines } = memoryLogger();
    logger.info(
      {
        token: 'tok-secret-1',
        headers: { Authorization: 'Bearer secret-2' },
        exchange: { request: { headers: { authorization: 'Bearer secret-3', cookie: 'session=secret-4' } } },
        err: { config: { headers: { authorization: 'Bearer secret-5' } } },
        patient: { identifier: [{ value: '9434765919' }] },
        resource: {
          identifier: [{ value: '9434765870' }],
          birthDate: '1974-12-25',
          telecom: [{ value: '01234 567 890' }],
        },
        provider: 'ed-north',
      },
      'something happened',
    );
    const line = lines()[0]!;
    for (const secret of [
      'tok-secret-1',
      'secret-2',
      'secret-3',
      'secret-4',
      'secret-5',
      '9434765919',
      '9434765870',
      '1974-12-25',
      '01234 567 890',
    ]) {
      expect(line).not.toContain(secret);
    }
    expect(line).toContain('[redacted]');
    expect(JSON.parse(line)).toMatchObject({ provider: 'ed-north', msg: 'something happened' });
  });
});
