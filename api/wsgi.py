"""The WSGI entry point for production servers:

    followup migrate && gunicorn -w 3 -b 0.0.0.0:8000 'api.wsgi:app'
"""
from api.app import create_app

app = create_app()
