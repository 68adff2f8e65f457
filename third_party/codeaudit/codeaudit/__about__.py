# SPDX-FileCopyrightText: 2025-present Maikel Mardjan
#
# SPDX-License-Identifier: GPL-3.0-or-later
__version__ = "1.8.1"
