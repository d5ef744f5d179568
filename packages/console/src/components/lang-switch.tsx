/** Toggles 中文/English; the label names the language you switch *to*, as people look for their own. */
import { useI18n } from '../i18n-context';

export function LangSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <button
      type="button"
      className="lang-switch"
      data-testid="lang-switch"
      title={t('lang.switchTitle')}
      onClick={() => setLang(lang === 'zh' ? 'en' : 'zh')}
    >
      {t('lang.other')}
    </button>
  );
}
