// Dependencies that only some configs use — etcd (failover), the AWS SDK
// (asg_set_unhealthy), the MySQL and PostgreSQL drivers, D-Bus (systemd) —
// are required on first use instead of at start-up. Loaded eagerly they cost
// ~28 MiB of resident memory (measured: idle RSS 104 -> 76 MiB) on every
// host, most of which configures none of them. Node caches a module after its first require, so later calls are a
// map lookup; a missing package still fails loudly, at the first use.
import { createRequire } from 'node:module';

const requireDep = createRequire(import.meta.url);

export const loadEtcd3 = (): typeof import('etcd3') => requireDep('etcd3');
export const loadAutoScaling = (): typeof import('@aws-sdk/client-auto-scaling') => requireDep('@aws-sdk/client-auto-scaling');
export const loadMysql2 = (): typeof import('mysql2') => requireDep('mysql2');
export const loadPg = (): typeof import('pg') => requireDep('pg');
export const loadDbus = (): typeof import('dbus-next') => requireDep('dbus-next');
