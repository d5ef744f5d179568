/**
 * Loading a user's framework from a .yaml, .yml or .json file; errors name the file.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { IipError } from '@iip/core';
import { type Framework, parseFramework } from './framework.js';

export async function loadFrameworkFile(path: string): Promise<Framework> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new IipError('IIP_ERR_EVAL_FRAMEWORK_INVALID', `${basename(path)}: cannot read the framework file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      path: basename(path),
    });
  }
  return parseFramework(text, basename(path));
}
