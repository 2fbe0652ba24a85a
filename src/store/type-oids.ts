/** PostgreSQL type OIDs the stores give parsers or serializers of their own. */
export const INT8_OID = 20;
export const JSON_OID = 114;
