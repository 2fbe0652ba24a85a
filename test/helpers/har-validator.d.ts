/** har-validator ships no types: the promise API checks a whole HAR (rejects with the schema's errors). */
declare module 'har-validator' {
  const validator: { har(data: unknown): Promise<unknown> };
  export default validator;
}
