// Client registrations shared by t/lib/op.mjs, the harness and the examples.
export const CLIENTS = {
  gateway: 'gateway-secret-0123456789abcdef0123456789',
  'api-client': 'api-client-secret-0123456789abcdef01234',
  'gateway-post': 'gateway-post-secret-0123456789abcdef012345',
};
