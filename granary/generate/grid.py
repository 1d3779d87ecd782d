"""The credit-village grid survey (整村授信 / 网格化走访): households, members, land, livestock,
estimated income, and each village's credit rating.

Every surveyed household is headed by a farmer-household customer and lives in that
customer's village. What the survey found is fixed per household (age and occupation as of
the survey programme's reference date), so a household's rows only appear on its survey date
and never change; a village's coverage grows as its households are visited.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from granary.generate.bank import Bank, at_least_one, day_number, money, yyyymmdd
from granary.generate.customers import FARMER, Customers, given_names, surnames
from granary.pipeline.idcard import check_digits

SURVEY_START = day_number(date(2021, 3, 1))
SURVEY_SPREAD = 900
RATING_START = day_number(date(2021, 9, 1))
REFERENCE = day_number(date(2026, 1, 1))  # ages and occupations are as of this day
YEAR = 365.25

SLOTS = 7  # 0 head, 1 spouse, 2-4 children, 5 father, 6 mother
HOUSEHOLD_TYPES = np.asarray(["1", "2", "3", "4"])
HOUSEHOLD_WEIGHTS = [0.80, 0.07, 0.05, 0.08]
CROPS_FIELD = np.asarray(["01", "02", "03", "04", "05", "06"])
CROPS_FIELD_WEIGHTS = [0.30, 0.25, 0.22, 0.10, 0.06, 0.07]
SPECIES_SHARE = np.asarray([0.15, 0.05, 0.05, 0.25, 0.08, 0.04])  # pig cattle sheep chicken duck fish
SPECIES_MEDIAN = np.asarray([8.0, 4.0, 15.0, 40.0, 40.0, 800.0])
SPECIES_VALUE = np.asarray([1800.0, 9000.0, 1200.0, 60.0, 50.0, 12.0])  # yuan per head
NET_PER_MU = {"1": 900.0, "2": 150.0, "3": 650.0}  # cultivated, forest, contracted
RATINGS = np.asarray(["A", "AA", "AAA"])


class Grid:
    def __init__(self, bank: Bank, customers: Customers) -> None:
        s = self._s = bank.stream
        self.bank = bank
        idx = customers.index
        farmer = np.flatnonzero((customers.ctype == FARMER) & (s.uniform("grid_surveyed", idx) < 0.86))
        h = idx[farmer]  # household key = the head's customer index
        self.pos, self.key = farmer, h
        cols = customers.columns
        self.survey_day = np.maximum(customers.open_day[farmer], SURVEY_START) + (
            s.uniform("grid_survey_day", h) * SURVEY_SPREAD
        ).astype(np.int64)
        self.household_id = np.asarray([f"H{i + 1:010d}" for i in h.tolist()])
        self.village_code = cols["village_code"][farmer]
        self.grid_code = np.char.add(
            self.village_code, np.char.zfill(s.integers("grid_no", h, 1, 5).astype(str), 2)
        )
        self.head_customer_id = cols["customer_id"][farmer]
        self.manager_id = cols["manager_id"][farmer]
        self.branch_id = cols["branch_id"][farmer]
        self.htype = s.choice("grid_htype", h, HOUSEHOLD_WEIGHTS)
        offsets = np.cumsum([0] + [len(t.villages) for t in bank.townships])
        self.village = offsets[customers.township[farmer]] + customers.village[farmer]
        self._members(customers, farmer)
        self._land()
        self._livestock()
        self._income()
        self._villages(customers)

    # --- members ----------------------------------------------------------------------------

    def _members(self, customers: Customers, farmer: np.ndarray) -> None:
        s, h = self._s, self.key
        n = len(h)
        head_birth = customers.birth[farmer]
        head_male = customers.male[farmer]
        present = np.zeros((n, SLOTS), dtype=bool)
        present[:, 0] = True
        present[:, 1] = s.uniform("grid_spouse", h) < 0.82
        children = s.choice("grid_children", h, [0.14, 0.36, 0.36, 0.14])
        for c in range(3):
            present[:, 2 + c] = children > c
        parents = s.choice("grid_parents", h, [0.50, 0.20, 0.30])
        present[:, 5] = parents == 2
        present[:, 6] = parents >= 1
        birth = np.zeros((n, SLOTS), dtype=np.int64)
        birth[:, 0] = head_birth
        birth[:, 1] = head_birth + (s.normal("grid_spouse_age", h) * 3 * YEAR).astype(np.int64)
        first_child = head_birth + ((22 + s.uniform("grid_child_age", h) * 10) * YEAR).astype(np.int64)
        for c in range(3):
            birth[:, 2 + c] = first_child + (
                c * (1.5 + s.uniform(f"grid_child_gap{c}", h) * 3) * YEAR
            ).astype(np.int64)
        birth[:, 5] = head_birth - ((24 + s.uniform("grid_father_age", h) * 8) * YEAR).astype(np.int64)
        birth[:, 6] = birth[:, 5] + ((s.uniform("grid_mother_age", h) * 5) * YEAR).astype(np.int64)
        born_by = REFERENCE - 30
        present &= birth <= born_by
        present[:, 5:] &= birth[:, 5:] >= day_number(date(1926, 1, 1))
        present[:, 0] = True
        male = np.zeros((n, SLOTS), dtype=bool)
        male[:, 0] = head_male
        male[:, 1] = ~head_male
        for c in range(3):
            male[:, 2 + c] = s.uniform(f"grid_child_sex{c}", h) < 0.52
        male[:, 5] = True

        hh, slot = np.nonzero(present)
        mkey = h[hh] * 8 + slot
        self.m_household = hh
        self.m_slot = slot
        self.m_birth = birth[hh, slot]
        self.m_male = male[hh, slot]
        head_surname = np.asarray([name[0] for name in customers.columns["customer_name"][farmer].tolist()])
        family = np.where(head_male, head_surname, surnames(s, h, "grid_spouse_surname"))
        spouse_surname = np.where(head_male, surnames(s, h, "grid_spouse_surname"), family)
        surname = np.select(
            [slot == 1, (slot >= 2) & (slot <= 4), slot == 5, slot == 6],
            [spouse_surname[hh], family[hh], head_surname[hh], surnames(s, mkey, "grid_mother_surname")],
            head_surname[hh],
        )
        names = np.char.add(surname, given_names(s, mkey, self.m_male, "grid_"))
        names = np.where(slot == 0, customers.columns["customer_name"][farmer][hh], names)
        county = self.bank.tenant.county_code
        seq = s.integers("grid_id_seq", mkey, 0, 500) * 2 + np.where(self.m_male, 1, 0)
        first17 = np.char.add(
            np.char.add(county, np.asarray(yyyymmdd(self.m_birth))), np.char.zfill(seq.astype(str), 3)
        )
        ids = np.char.add(first17, check_digits(first17))
        ids = np.where(slot == 0, customers.columns["id_number"][farmer][hh], ids)
        age = (REFERENCE - self.m_birth) / YEAR
        job = s.choice(
            "grid_job", mkey, [0.45, 0.28, 0.15, 0.12]
        )  # farming, migrant, local wage, own business
        job = np.where(slot == 0, np.where(s.uniform("grid_head_farms", mkey) < 0.6, 0, job), job)
        occupation = np.select(
            [age < 6, age < 18, (age < 23) & (s.uniform("grid_student", mkey) < 0.5), age > 70, age > 62],
            ["6", "5", "5", "6", np.where(s.uniform("grid_old_farms", mkey) < 0.5, "1", "6")],
            np.asarray(["1", "2", "3", "4"])[job],
        )
        self.m_occupation = occupation
        labor = (age >= 16) & (age <= 65) & ~np.isin(occupation, ["5", "6"])
        self.m_labor = labor
        self.m_rows = {
            "member_id": np.asarray([f"H{k // 8 + 1:010d}{k % 8 + 1:02d}" for k in mkey.tolist()]),
            "household_id": self.household_id[hh],
            "customer_id": np.where(slot == 0, self.head_customer_id[hh], ""),
            "member_name": names,
            "id_number": ids,
            "relation": np.select([slot == 0, slot == 1, slot <= 4], ["01", "02", "03"], "04"),
            "gender": np.where(self.m_male, "1", "2"),
            "birth_date": np.asarray(yyyymmdd(self.m_birth)),
            "occupation": occupation,
            "is_labor": np.where(labor, "Y", "N"),
        }
        self.members_count = np.bincount(hh, minlength=n)
        self.labor_count = np.bincount(hh, weights=labor, minlength=n).astype(np.int64)

    # --- land, livestock, income ------------------------------------------------------------

    def _land(self) -> None:
        s, h = self._s, self.key
        big = np.isin(self.htype, [1, 2])  # large growers and family farms
        has = np.stack(
            [
                s.uniform("land_cultivated", h) < 0.95,
                s.uniform("land_forest", h) < 0.22,
                s.uniform("land_contracted", h) < np.where(big, 0.95, 0.08),
            ],
            axis=1,
        )
        scale = np.where(self.htype == 1, 25.0, np.where(self.htype == 2, 12.0, 1.0))
        median = np.stack([6.0 * np.ones(len(h)), 10.0 * np.ones(len(h)), 30.0 * scale], axis=1)
        hh, kind = np.nonzero(has)
        lkey = h[hh] * 8 + kind
        area = np.clip(np.round(median[hh, kind] * np.exp(0.7 * s.normal("land_area", lkey)), 2), 0.1, 20_000)
        crop = np.where(kind == 1, "09", CROPS_FIELD[s.choice("land_crop", lkey, CROPS_FIELD_WEIGHTS)])
        crop = np.where(
            (kind == 0) & (s.uniform("land_tea_fruit", lkey) < 0.08),
            np.where(s.uniform("land_tea", lkey) < 0.5, "07", "08"),
            crop,
        )
        self.l_household, self.l_kind, self.l_area = hh, kind, area
        self.l_rows = {
            "land_id": np.asarray([f"H{k // 8 + 1:010d}{20 + k % 8:02d}" for k in lkey.tolist()]),
            "household_id": self.household_id[hh],
            "land_type": np.asarray(["1", "2", "3"])[kind],
            "area_mu": money(area),
            "crop": crop,
            "right_confirmed": np.where(s.uniform("land_confirmed", lkey) < 0.9, "Y", "N"),
        }

    def _livestock(self) -> None:
        s, h = self._s, self.key
        big = np.isin(self.htype, [1, 2])
        u = np.stack([s.uniform(f"stock_{i}", h) for i in range(len(SPECIES_SHARE))], axis=1)
        has = u < SPECIES_SHARE * np.where(big, 2.5, 1.0)[:, None]
        hh, species = np.nonzero(has)
        skey = h[hh] * 8 + species
        heads = (
            SPECIES_MEDIAN[species]
            * np.exp(0.9 * s.normal("stock_heads", skey))
            * np.where(big[hh], 8.0, 1.0)
        )
        heads = np.clip(np.round(heads), 1, 200_000).astype(np.int64)
        value = np.round(heads * SPECIES_VALUE[species] * np.exp(0.15 * s.normal("stock_value", skey)), 2)
        self.s_household, self.s_value = hh, value
        self.s_rows = {
            "livestock_id": np.asarray([f"H{k // 8 + 1:010d}{30 + k % 8:02d}" for k in skey.tolist()]),
            "household_id": self.household_id[hh],
            "species": (species + 1).astype(str),
            "head_count": heads.astype(str),
            "estimated_value": money(value),
        }

    def _income(self) -> None:
        s, h, n = self._s, self.key, len(self.key)
        net = np.asarray([NET_PER_MU["1"], NET_PER_MU["2"], NET_PER_MU["3"]])
        planting = np.bincount(self.l_household, weights=self.l_area * net[self.l_kind], minlength=n)
        livestock = np.bincount(self.s_household, weights=self.s_value * 0.45, minlength=n)
        wage = np.where(self.m_occupation == "2", 48_000.0, np.where(self.m_occupation == "3", 32_000.0, 0.0))
        wages = np.bincount(self.m_household, weights=wage, minlength=n)
        business = np.bincount(
            self.m_household, weights=np.where(self.m_occupation == "4", 60_000.0, 0.0), minlength=n
        )
        aged = np.bincount(self.m_household, weights=(REFERENCE - self.m_birth) / YEAR >= 60, minlength=n)
        transfers = 800.0 + 2_400.0 * aged + np.where(planting > 0, 90.0 * 6, 0.0)
        income = np.stack([planting, livestock, wages, business, transfers], axis=1)
        income = income * np.exp(0.25 * np.stack([s.normal(f"income_{i}", h) for i in range(5)], axis=1))
        hh, source = np.nonzero(np.round(income, 2) > 0)
        year = self.survey_day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970 - 1
        self.i_household = hh
        self.i_rows = {
            "household_id": self.household_id[hh],
            "income_source": (source + 1).astype(str),
            "income_year": year[hh].astype(str),
            "annual_income": money(np.minimum(income[hh, source], 50_000_000)),
        }

    # --- villages ---------------------------------------------------------------------------

    def _villages(self, customers: Customers) -> None:
        s, bank = self._s, self.bank
        self.v_code = np.asarray(
            [f"{bank.tenant.county_code}{t.code}{v}" for t in bank.townships for v, _ in t.villages]
        )
        self.v_name = np.asarray([f"{t.name}{name}" for t in bank.townships for _, name in t.villages])
        self.v_township = np.asarray(
            [f"{bank.tenant.county_code}{t.code}" for t in bank.townships for _ in t.villages]
        )
        nv = len(self.v_code)
        vi = np.arange(nv)
        offsets = np.cumsum([0] + [len(t.villages) for t in bank.townships])
        founding = customers.index < bank.customers
        home = offsets[customers.township] + customers.village
        farmers = np.bincount(home[founding & (customers.ctype == FARMER)], minlength=nv)
        penetration = 0.45 + s.uniform("village_penetration", vi) * 0.3
        self.v_total = np.maximum(np.ceil(farmers / penetration).astype(np.int64) + 3, 1)
        rated = s.uniform("village_rated", vi) < 0.7
        self.v_rating_day = np.where(
            rated, RATING_START + (s.uniform("village_rating_day", vi) * 1400).astype(np.int64), 2**40
        )
        # A county's first credit village was named at the start of the programme.
        self.v_rating_day[0] = RATING_START
        self.v_rating = RATINGS[s.choice("village_rating", vi, [0.5, 0.35, 0.15])]

    def _on(self, day: int) -> np.ndarray:
        return at_least_one(self.survey_day <= day, -self.survey_day.astype(np.float64))

    def credit_village(self, day: int) -> np.ndarray:
        """Per household: is its village a rated credit village on `day`?"""
        return self.v_rating_day[self.village] <= day

    def household_rows(self, day: int) -> dict[str, np.ndarray]:
        on = np.flatnonzero(self._on(day))
        return {
            "household_id": self.household_id[on],
            "village_code": self.village_code[on],
            "grid_code": self.grid_code[on],
            "head_customer_id": self.head_customer_id[on],
            "household_type": HOUSEHOLD_TYPES[self.htype[on]],
            "members_count": self.members_count[on].astype(str),
            "labor_count": self.labor_count[on].astype(str),
            "credit_village": np.where(self.credit_village(day)[on], "Y", "N"),
            "manager_id": self.manager_id[on],
            "survey_date": np.asarray(yyyymmdd(np.minimum(self.survey_day[on], day))),
        }

    def _part(self, rows: dict[str, np.ndarray], household: np.ndarray, day: int) -> dict[str, np.ndarray]:
        keep = self._on(day)[household]
        return {name: values[keep] for name, values in rows.items()}

    def member_rows(self, day: int) -> dict[str, np.ndarray]:
        return self._part(self.m_rows, self.m_household, day)

    def land_rows(self, day: int) -> dict[str, np.ndarray]:
        return self._part(self.l_rows, self.l_household, day)

    def livestock_rows(self, day: int) -> dict[str, np.ndarray]:
        rows = self._part(self.s_rows, self.s_household, day)
        if len(rows["livestock_id"]) or not len(self.s_household):
            return rows
        # Not one surveyed household keeps animals yet: show the earliest that will.
        first = np.argmin(self.survey_day[self.s_household])
        return {name: values[first : first + 1] for name, values in self.s_rows.items()}

    def income_rows(self, day: int) -> dict[str, np.ndarray]:
        return self._part(self.i_rows, self.i_household, day)

    def village_rows(self, day: int) -> dict[str, np.ndarray]:
        on = self._on(day)
        surveyed = np.bincount(self.village[on], minlength=len(self.v_code))
        total = np.maximum(self.v_total, surveyed)
        rated = self.v_rating_day <= day
        return {
            "village_code": self.v_code,
            "village_name": self.v_name,
            "township_code": self.v_township,
            "rating": np.where(rated, self.v_rating, ""),
            "rating_date": np.where(rated, np.asarray(yyyymmdd(np.minimum(self.v_rating_day, day))), ""),
            "households_total": total.astype(str),
            "households_surveyed": surveyed.astype(str),
            "survey_coverage": np.asarray([f"{c:.4f}" for c in (surveyed / total).tolist()]),
        }
