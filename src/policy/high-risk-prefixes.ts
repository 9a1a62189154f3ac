/**
 * Destinations an outbound voice agent has no business calling and that international revenue
 * share fraud (IRSF) pumps traffic to: the gateway refuses them unless DENY_PREMIUM_PREFIXES=false,
 * or a longer ALLOWED_PREFIXES entry re-opens one range (src/policy/destination-policy.ts).
 *
 * Where it comes from (docs/security.md#the-high-risk-destination-list): the number ranges ITU-T E.164 assigns to global
 * services (satellite systems, shared international network codes, the international premium-rate
 * and shared-cost services), national premium-rate ranges from the regulators' numbering plans,
 * the NANP area codes that are not the United States or Canada (charged as international by most
 * carriers, and the classic "one-ring" callback targets), and country codes that recur in the fraud
 * hot lists carriers publish and in the CFCA fraud loss surveys and GSMA fraud reports.
 *
 * It is a curated starting point, not an authoritative or complete feed: ranges change, and the
 * hot lists differ by carrier and year. The real control is ALLOWED_PREFIXES set to the countries
 * actually called (.env.example sets the trunk's country, +7).
 *
 * The list governs destinations dialled, not accounts: +883 also numbers legitimate services, the
 * trunk account itself (883140776920289) among them, and calling such a number is still refused.
 */

/** Why a range is on the list. */
export type HighRiskCategory = 'global-service' | 'premium-rate' | 'nanp-outside-us-canada' | 'high-fraud-country';

/** A denied range: "+" and its leading digits, and the reason shown to operators and API clients. */
export interface HighRiskPrefix {
  readonly prefix: string;
  readonly description: string;
  readonly category: HighRiskCategory;
}

const global = (prefix: string, description: string): HighRiskPrefix => ({ prefix, description, category: 'global-service' });
const premium = (prefix: string, description: string): HighRiskPrefix => ({ prefix, description, category: 'premium-rate' });
const nanp = (prefix: string, where: string): HighRiskPrefix => ({ prefix, description: `NANP outside the US and Canada: ${where}`, category: 'nanp-outside-us-canada' });
const country = (prefix: string, name: string): HighRiskPrefix => ({ prefix, description: `high-fraud destination: ${name}`, category: 'high-fraud-country' });

/** The built-in list (DENY_PREMIUM_PREFIXES). Prefixes are unique; the longest match names the reason. */
export const HIGH_RISK_PREFIXES: readonly HighRiskPrefix[] = [
  // ITU-T E.164 codes of global services: satellite, shared international networks, premium.
  global('+870', 'Inmarsat satellite'),
  global('+878', 'Universal Personal Telecommunications'),
  global('+881', 'Global Mobile Satellite System'),
  global('+882', 'international networks (shared code)'),
  global('+883', 'international networks (shared code)'),
  global('+888', 'telecommunications for disaster relief (OCHA)'),
  global('+808', 'International Shared Cost Service'),
  global('+979', 'International Premium Rate Service (ITU)'),

  // National premium-rate and mass-calling ranges.
  premium('+1900', 'NANP premium rate (900)'),
  premium('+7809', 'Russia premium rate (8-809)'),
  premium('+449', 'UK premium rate (09)'),
  premium('+4470', 'UK personal numbering (070)'),
  premium('+49900', 'Germany premium rate (0900)'),
  premium('+49137', 'Germany mass-traffic (0137)'),
  premium('+3389', 'France premium rate (089x)'),
  premium('+3989', 'Italy premium rate (89x)'),
  premium('+34803', 'Spain premium rate (803)'),
  premium('+34806', 'Spain premium rate (806)'),
  premium('+34807', 'Spain premium rate (807)'),
  premium('+34905', 'Spain mass-calling (905)'),
  premium('+6119', 'Australia premium rate (19xx)'),

  // +1 numbers that are neither the US nor Canada: Caribbean countries and US territories.
  nanp('+1242', 'Bahamas'),
  nanp('+1246', 'Barbados'),
  nanp('+1264', 'Anguilla'),
  nanp('+1268', 'Antigua and Barbuda'),
  nanp('+1284', 'British Virgin Islands'),
  nanp('+1340', 'US Virgin Islands'),
  nanp('+1345', 'Cayman Islands'),
  nanp('+1441', 'Bermuda'),
  nanp('+1473', 'Grenada'),
  nanp('+1649', 'Turks and Caicos Islands'),
  nanp('+1658', 'Jamaica'),
  nanp('+1664', 'Montserrat'),
  nanp('+1670', 'Northern Mariana Islands'),
  nanp('+1671', 'Guam'),
  nanp('+1684', 'American Samoa'),
  nanp('+1721', 'Sint Maarten'),
  nanp('+1758', 'Saint Lucia'),
  nanp('+1767', 'Dominica'),
  nanp('+1784', 'Saint Vincent and the Grenadines'),
  nanp('+1787', 'Puerto Rico'),
  nanp('+1809', 'Dominican Republic'),
  nanp('+1829', 'Dominican Republic'),
  nanp('+1849', 'Dominican Republic'),
  nanp('+1868', 'Trinidad and Tobago'),
  nanp('+1869', 'Saint Kitts and Nevis'),
  nanp('+1876', 'Jamaica'),
  nanp('+1939', 'Puerto Rico'),

  // Whole countries that recur in IRSF hot lists: high termination rates, and rarely a destination
  // of an outbound voice agent. Re-open one with ALLOWED_PREFIXES=+<code><more digits>, or switch
  // the list off and set ALLOWED_PREFIXES.
  country('+53', 'Cuba'),
  country('+220', 'Gambia'),
  country('+224', 'Guinea'),
  country('+232', 'Sierra Leone'),
  country('+235', 'Chad'),
  country('+236', 'Central African Republic'),
  country('+239', 'São Tomé and Príncipe'),
  country('+241', 'Gabon'),
  country('+243', 'DR Congo'),
  country('+245', 'Guinea-Bissau'),
  country('+247', 'Ascension Island'),
  country('+252', 'Somalia'),
  country('+269', 'Comoros'),
  country('+290', 'Saint Helena and Tristan da Cunha'),
  country('+291', 'Eritrea'),
  country('+500', 'Falkland Islands'),
  country('+670', 'Timor-Leste'),
  country('+672', 'Australian External Territories (Norfolk Island, Antarctica)'),
  country('+674', 'Nauru'),
  country('+675', 'Papua New Guinea'),
  country('+676', 'Tonga'),
  country('+677', 'Solomon Islands'),
  country('+678', 'Vanuatu'),
  country('+680', 'Palau'),
  country('+681', 'Wallis and Futuna'),
  country('+682', 'Cook Islands'),
  country('+683', 'Niue'),
  country('+685', 'Samoa'),
  country('+686', 'Kiribati'),
  country('+687', 'New Caledonia'),
  country('+688', 'Tuvalu'),
  country('+689', 'French Polynesia'),
  country('+690', 'Tokelau'),
  country('+691', 'Micronesia'),
  country('+692', 'Marshall Islands'),
  country('+850', 'North Korea'),
  country('+960', 'Maldives'),
];
