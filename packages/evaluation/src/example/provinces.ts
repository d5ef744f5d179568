/**
 * The 31 provincial-level regions of mainland China with their conventional economic group (东部 east,
 * 中部 centre, 西部 west, 东北 north-east) and an invented development level in [0, 1] that drives the
 * synthetic example — plausible in ordering, not a measurement.
 */

export interface Province {
  name: string;
  nameEn: string;
  group: '东部' | '中部' | '西部' | '东北';
  level: number;
}

export const PROVINCES: readonly Province[] = [
  { name: '北京', nameEn: 'Beijing', group: '东部', level: 0.86 },
  { name: '天津', nameEn: 'Tianjin', group: '东部', level: 0.6 },
  { name: '河北', nameEn: 'Hebei', group: '东部', level: 0.46 },
  { name: '上海', nameEn: 'Shanghai', group: '东部', level: 0.88 },
  { name: '江苏', nameEn: 'Jiangsu', group: '东部', level: 0.93 },
  { name: '浙江', nameEn: 'Zhejiang', group: '东部', level: 0.9 },
  { name: '福建', nameEn: 'Fujian', group: '东部', level: 0.66 },
  { name: '山东', nameEn: 'Shandong', group: '东部', level: 0.8 },
  { name: '广东', nameEn: 'Guangdong', group: '东部', level: 1 },
  { name: '海南', nameEn: 'Hainan', group: '东部', level: 0.26 },
  { name: '山西', nameEn: 'Shanxi', group: '中部', level: 0.36 },
  { name: '安徽', nameEn: 'Anhui', group: '中部', level: 0.62 },
  { name: '江西', nameEn: 'Jiangxi', group: '中部', level: 0.46 },
  { name: '河南', nameEn: 'Henan', group: '中部', level: 0.56 },
  { name: '湖北', nameEn: 'Hubei', group: '中部', level: 0.63 },
  { name: '湖南', nameEn: 'Hunan', group: '中部', level: 0.55 },
  { name: '内蒙古', nameEn: 'Inner Mongolia', group: '西部', level: 0.3 },
  { name: '广西', nameEn: 'Guangxi', group: '西部', level: 0.35 },
  { name: '重庆', nameEn: 'Chongqing', group: '西部', level: 0.57 },
  { name: '四川', nameEn: 'Sichuan', group: '西部', level: 0.61 },
  { name: '贵州', nameEn: 'Guizhou', group: '西部', level: 0.42 },
  { name: '云南', nameEn: 'Yunnan', group: '西部', level: 0.31 },
  { name: '西藏', nameEn: 'Tibet', group: '西部', level: 0.05 },
  { name: '陕西', nameEn: "Shaanxi", group: '西部', level: 0.5 },
  { name: '甘肃', nameEn: 'Gansu', group: '西部', level: 0.22 },
  { name: '青海', nameEn: 'Qinghai', group: '西部', level: 0.12 },
  { name: '宁夏', nameEn: 'Ningxia', group: '西部', level: 0.2 },
  { name: '新疆', nameEn: 'Xinjiang', group: '西部', level: 0.23 },
  { name: '辽宁', nameEn: 'Liaoning', group: '东北', level: 0.45 },
  { name: '吉林', nameEn: 'Jilin', group: '东北', level: 0.3 },
  { name: '黑龙江', nameEn: 'Heilongjiang', group: '东北', level: 0.28 },
];
