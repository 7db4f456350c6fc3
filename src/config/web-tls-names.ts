// The names a Prometheus web config file uses (Go's crypto/tls), translated
// to what Node's TLS (OpenSSL) calls the same thing. A file shared with
// node_exporter must mean the same here.

/** min_version / max_version. */
export const TLS_VERSIONS = {
  TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3',
} as const;
export type TlsVersionName = keyof typeof TLS_VERSIONS;

/**
 * cipher_suites: the suites Go's tls.CipherSuites() names, as OpenSSL names
 * them. Go ignores the TLS 1.3 suites in this list (they are not
 * configurable there); so does vigil, so TLS 1.3 keeps OpenSSL's defaults.
 */
export const CIPHER_SUITES: Readonly<Record<string, string | null>> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_AES_128_GCM_SHA256: null,
  TLS_AES_256_GCM_SHA384: null,
  TLS_CHACHA20_POLY1305_SHA256: null,
};

/** curve_preferences. */
export const CURVES: Readonly<Record<string, string>> = {
  CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519',
};

/**
 * client_auth_type, as Go's tls.ClientAuthType. Node has two switches
 * (requestCert, rejectUnauthorized); the modes it lacks are finished per
 * connection after the handshake (`check`): the connection is closed, not
 * refused inside the handshake.
 */
export const CLIENT_AUTH_TYPES = ['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

export interface ClientAuthMode {
  readonly requestCert: boolean;
  readonly rejectUnauthorized: boolean;
  /** After the handshake: what a connection must show, beyond what OpenSSL enforced. */
  readonly check: 'none' | 'cert_present' | 'verified_if_present';
  /** Whether a client certificate is checked against the client CA at all. */
  readonly verifies: boolean;
}

export const CLIENT_AUTH_MODES: Readonly<Record<ClientAuthType, ClientAuthMode>> = {
  NoClientCert: { requestCert: false, rejectUnauthorized: false, check: 'none', verifies: false },
  RequestClientCert: { requestCert: true, rejectUnauthorized: false, check: 'none', verifies: false },
  // Node cannot require a certificate without verifying it: asked for, then required after the handshake.
  RequireAnyClientCert: { requestCert: true, rejectUnauthorized: false, check: 'cert_present', verifies: false },
  // Node cannot verify only a given certificate: asked for, then verified after the handshake when there is one.
  VerifyClientCertIfGiven: { requestCert: true, rejectUnauthorized: false, check: 'verified_if_present', verifies: true },
  // OpenSSL refuses a missing certificate inside the handshake; Node closes the connection of an unverified one right after it.
  RequireAndVerifyClientCert: { requestCert: true, rejectUnauthorized: true, check: 'none', verifies: true },
};
