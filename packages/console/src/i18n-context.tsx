/**
 * React side of i18n: the current language, persisted in localStorage, and a `t()` bound to it.
 * The strings themselves live in i18n-dictionary.ts.
 */
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { type Lang, type MessageKey, pickLang, translate } from './i18n-dictionary';

const STORAGE_KEY = 'iip.lang';

export interface I18n {
  readonly lang: Lang;
  setLang(lang: Lang): void;
  t(key: MessageKey, params?: Readonly<Record<string, string | number>>): string;
}

const Ctx = createContext<I18n | undefined>(undefined);

function initialLang(): Lang {
  let stored: string | null = null;
  try {
    stored = localStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage can be disabled by policy; the browser language is then the best guess.
  }
  return pickLang(stored, navigator.language);
}

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const setLang = useCallback((l: Lang) => {
    setLangState(l);
    try {
      localStorage.setItem(STORAGE_KEY, l);
    } catch {
      // Not persisting is acceptable; the switch still applies to this tab.
    }
  }, []);
  useEffect(() => {
    // Screen readers and the browser's font choice for CJK glyphs follow the document language.
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  }, [lang]);
  const value = useMemo<I18n>(() => ({ lang, setLang, t: (key, params) => translate(lang, key, params) }), [lang, setLang]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useI18n(): I18n {
  const v = useContext(Ctx);
  if (!v) throw new Error('useI18n must be used inside <I18nProvider>');
  return v;
}
