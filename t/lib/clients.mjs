// Client registrations shared by t/lib/op.mjs, the harness and the examples.
export const CLIENTS = {
  gateway: 'gateway-secret-0123456789abcdef0123456789',
  'api-client': 'api-client-secret-0123456789abcdef01234',
  'gateway-post': 'gateway-post-secret-0123456789abcdef012345',
  // resource servers that only introspect (RFC 7662), HTTP Basic and form body
  'introspector-basic': 'introspector-basic-secret-0123456789abcdef',
  'introspector-post': 'introspector-post-secret-0123456789abcdef01',
};
