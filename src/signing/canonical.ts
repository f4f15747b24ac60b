import canonicalize from 'canonicalize';

// RFC 8785 JSON Canonicalization Scheme (JCS): keys sorted by UTF-16 code units, no whitespace,
// numbers and strings serialised as ECMAScript does. `canonicalize` is by one of the RFC's authors.

export function canonicalJson(value: unknown): string {
  const out = canonicalize(value);
  if (out === undefined) throw new Error('cannot canonicalise a value that is not JSON');
  return out;
}
