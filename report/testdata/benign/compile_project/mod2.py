# -*- coding: utf-8 -*-
VALUE = sum(i * i for i in range(10))
NAME = "caf\u00e9 ünïcode"
