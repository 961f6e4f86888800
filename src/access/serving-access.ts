// The keys `sluice serve` accepts, gathered in one place: the principals file (settings.access, SLUICE_ACCESS_FILE,
// or `<state>/access.json` when it exists) and the older SLUICE_API_KEYS and settings.apiKeys, as principals.
import fs from 'node:fs';
import path from 'node:path';
import type { Settings } from '../config.ts';
import type { Project } from '../define/project.ts';
import { SluiceError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { legacyPrincipals, parseApiKeys } from './api-keys.ts';
import { KeyRing } from './key-ring.ts';
import type { Principal } from './principals.ts';

/** The principals file a command reads and `sluice access` writes. */
export function principalsFilePath(settings: Pick<Settings, 'accessFile' | 'stateDir'>): string {
  return settings.accessFile ?? path.join(settings.stateDir, 'access.json');
}

/** The project's names, which grants must use. */
export function projectNames(project: Project): { services: Set<string>; assets: Set<string>; streams: Set<string> } {
  return { services: new Set(project.featureServices.keys()), assets: new Set(project.order), streams: new Set(project.eventStreams.keys()) };
}

/** Principals of the older key settings: SLUICE_API_KEYS, then settings.apiKeys. */
export function legacyKeyPrincipals(project: Project, envKeys: string | undefined): Principal[] {
  const streams = new Set(project.eventStreams.keys());
  const fromProject = Object.entries(project.settings.apiKeys ?? {}).map(([key, services]) => `${key}=${services === '*' ? '*' : services.join('|')}`).join(',');
  return [
    ...legacyPrincipals(parseApiKeys(envKeys ?? ''), 'SLUICE_API_KEYS', streams),
    ...legacyPrincipals(parseApiKeys(fromProject), 'settings.apiKeys', streams),
  ];
}

export function openServingKeyRing(project: Project, settings: Pick<Settings, 'accessFile' | 'stateDir' | 'apiKeys'>, logger?: Logger, refreshMs?: number): KeyRing {
  const file = principalsFilePath(settings);
  if (settings.accessFile !== undefined && !fs.existsSync(file)) {
    throw new SluiceError('CONFIG_INVALID', `the principals file ${file} (settings.access.principalsFile or SLUICE_ACCESS_FILE) does not exist; create it with \`sluice access add-key <principal> --role reader --service <name>\``, { file });
  }
  return new KeyRing({ file, fixed: legacyKeyPrincipals(project, settings.apiKeys), known: projectNames(project), logger, refreshMs });
}
