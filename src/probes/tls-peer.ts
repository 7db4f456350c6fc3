// The peer certificate chain of one client TLS connection, converted to JS
// objects once. Node converts the whole chain (getPeerCertificate(true)) for
// its own host-name check on every verified handshake; calling it again at
// 'secureConnect' for the expiry doubled the cost, ~0.3 ms of CPU per
// handshake. Passed as tls.connect's `checkServerIdentity`, this keeps
// Node's copy and runs the same built-in check on it.
import tls from 'node:tls';

export class PeerCertificate {
  private checked: tls.DetailedPeerCertificate | undefined;

  /** tls.checkServerIdentity, keeping the certificate it was given. */
  readonly checkServerIdentity = (host: string, cert: tls.PeerCertificate): Error | undefined => {
    this.checked = cert as tls.DetailedPeerCertificate;
    return tls.checkServerIdentity(host, cert);
  };

  /**
   * At 'secureConnect': the chain Node converted for the host-name check, or,
   * when no check ran (a chain that failed verification, accepted with
   * rejectUnauthorized: false), the chain converted now.
   */
  of(socket: tls.TLSSocket): tls.DetailedPeerCertificate {
    return this.checked ?? socket.getPeerCertificate(true);
  }
}
