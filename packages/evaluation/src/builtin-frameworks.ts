/**
 * Built-in frameworks shipped as data files under packages/evaluation/frameworks/ — today the CAICT 2024
 * structure (`caict-2024`). They are read and validated on first use, through the same parser as users'
 * own files, so the shipped file is held to the same rules.
 */
import { readFileSync } from 'node:fs';
import { IipError } from '@iip/core';
import { type Framework, parseFramework } from './framework.js';

export const BUILTIN_FRAMEWORKS: readonly string[] = ['caict-2024'];

const cache = new Map<string, Framework>();

export function builtinFrameworkPath(id: string): URL {
  return new URL(`../frameworks/${id}.yaml`, import.meta.url);
}

export function builtinFramework(id = 'caict-2024'): Framework {
  const hit = cache.get(id);
  if (hit) return structuredClone(hit);
  if (!BUILTIN_FRAMEWORKS.includes(id)) {
    throw new IipError('IIP_ERR_EVAL_FRAMEWORK_UNKNOWN', `no built-in framework "${id}"; known: ${BUILTIN_FRAMEWORKS.join(', ')}`, {
      id,
      known: BUILTIN_FRAMEWORKS,
    });
  }
  const fw = parseFramework(readFileSync(builtinFrameworkPath(id), 'utf8'), `${id}.yaml`);
  cache.set(id, fw);
  return structuredClone(fw);
}
